// A bare runtime process for the idle-RSS comparison: it loads nothing and only stays alive.
setInterval(() => {}, 2 ** 30);

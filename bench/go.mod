module fetchcgi-bench

go 1.19

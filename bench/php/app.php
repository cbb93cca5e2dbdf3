<?php
// The PHP-FPM contender: the routes of bench/app.js, byte for byte.

$path = strtok($_SERVER['REQUEST_URI'] ?? '/', '?');
switch ($path) {
  case '/hello':
    header('Content-Type: text/plain');
    echo 'Hello, World!';
    break;
  case '/json':
    // PHP keeps no state between requests: a random number stands in for the counter (same size).
    $n = random_int(1, 99999);
    $items = [];
    for ($i = 0; $i < 13; $i++) {
      $items[] = ['id' => $n * 13 + $i, 'name' => "item $i", 'price' => ($i + 1) * 1.25, 'tags' => ['alpha', 'beta'], 'inStock' => $i % 2 === 0];
    }
    header('Content-Type: application/json');
    echo json_encode(['request' => $n, 'status' => 'ok', 'message' => 'Hello, World!', 'items' => $items]);
    break;
  case '/big':
    header('Content-Type: application/octet-stream');
    echo str_repeat('x', 256 * 1024);
    break;
  case '/post':
    header('Content-Type: text/plain');
    echo strlen(file_get_contents('php://input'));
    break;
  case '/upload':
    $in = fopen('php://input', 'rb');
    $n = 0;
    while (!feof($in)) $n += strlen(fread($in, 65536));
    header('Content-Type: text/plain');
    echo $n;
    break;
  case '/sse':
    header('Content-Type: text/event-stream');
    header('Cache-Control: no-cache');
    header('X-Accel-Buffering: no');
    for ($i = 1; $i <= 100; $i++) {
      echo "id: $i\ndata: {\"n\":$i,\"msg\":\"Hello, World!\"}\n\n";
      flush();
    }
    break;
  default:
    http_response_code(404);
    echo 'not found';
}

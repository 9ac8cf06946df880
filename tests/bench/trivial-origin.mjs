// A trivial origin for benchmarks: answers every request at once with a small JSON body.
// Usage: node trivial-origin.mjs PORT  (prints "listening PORT" when ready)
import http from 'node:http';

const body = Buffer.from('{"days":[],"ok":true}');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => console.log(`listening ${server.address().port}`));

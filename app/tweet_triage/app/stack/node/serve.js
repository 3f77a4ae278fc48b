// Starts @vercel/cosmosdb-server over plain HTTP with keep-alive, through the package's own createHttpServer.
// Its command-line entry point answers every request with `Connection: close`, so each request costs the client a
// new TCP connection (measured: most of the Python client's time on the stream's write path). Usage:
//   node serve.js --port PORT --host HOST
"use strict";
const { createHttpServer } = require("@vercel/cosmosdb-server");

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const port = parseInt(option("--port") || "", 10);
const host = option("--host");
if (!Number.isInteger(port) || !host) {
  console.error("usage: node serve.js --port PORT --host HOST");
  process.exit(2);
}
const server = createHttpServer({ keepAlive: true });
server.keepAliveTimeout = 65000; // longer than the clients' pool keep-alive, so the server never closes first
server.headersTimeout = 66000;
server.listen(port, host, () => console.log(`Ready to accept HTTP connections at ${host}:${port} (keep-alive)`));

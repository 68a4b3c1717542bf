// The official TypeScript MCP client against openpista's MCP server.
// Usage:
//   node client.mjs stdio OPENPISTA_BINARY TOOL ARGS_JSON   (runs `mcp serve`)
//   node client.mjs http URL TOKEN TOOL ARGS_JSON
// Prints one JSON line: {"server", "tools", "result"} or {"error"}.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, target, ...rest] = process.argv.slice(2);
let transport;
let tool;
let args;
if (mode === "stdio") {
  [tool, args] = rest;
  transport = new StdioClientTransport({
    command: target,
    args: ["mcp", "serve"],
    env: { ...process.env },
    stderr: "inherit",
  });
} else {
  const [token] = rest;
  [tool, args] = rest.slice(1);
  transport = new StreamableHTTPClientTransport(new URL(target), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
}
const client = new Client({ name: "openpista-test-client", version: "1.0.0" });
try {
  await client.connect(transport);
  const listed = await client.listTools();
  const result = await client.callTool({ name: tool, arguments: JSON.parse(args) });
  console.log(
    JSON.stringify({
      server: client.getServerVersion(),
      protocol: transport.protocolVersion ?? null,
      tools: listed.tools.map((t) => ({ name: t.name, schema: t.inputSchema })),
      result,
    }),
  );
  await client.close();
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.message ? e.message : e) }));
  process.exitCode = 0;
  await client.close().catch(() => {});
}

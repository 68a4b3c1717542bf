// A small MCP server on the official TypeScript SDK whose tool list
// changes on request: calling `add-tool` registers `added`, which makes
// the SDK send notifications/tools/list_changed. The Rust tests use it to
// show the client picks up a change it did not cause by reconnecting.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer(
  { name: "changing", version: "1.0.0" },
  { capabilities: { tools: { listChanged: true } } },
);
server.registerTool(
  "add-tool",
  { description: "Adds the tool `added`.", inputSchema: {} },
  async () => {
    server.registerTool(
      "added",
      { description: "A tool that was not there at first.", inputSchema: { word: z.string() } },
      async ({ word }) => ({ content: [{ type: "text", text: `added says ${word}` }] }),
    );
    return { content: [{ type: "text", text: "added" }] };
  },
);
await server.connect(new StdioServerTransport());

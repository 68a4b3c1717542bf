// weather-js: the current weather for a city, as an openpista `tool`
// component written in JavaScript and built with jco componentize
// (ComponentizeJS / StarlingMonkey): `npm ci && npm run build`.
//
// `fetch` is StarlingMonkey's, over wasi:http. The host lets the request out
// only to the manifest's granted hosts and replaces `{{secret:weather_key}}`
// on the way out, so the key itself never enters this component.

import { config, log } from "openpista:plugin/host@0.2.2";

const DEFAULT_BASE_URL = "https://api.weather.example";
const MAX_CITY_CHARS = 100;
// The most of an error body quoted back.
const MAX_MESSAGE_CHARS = 300;

const SPECS = [
  {
    name: "weather.current",
    description:
      "Current weather for a city: temperature in °C, conditions and wind in km/h. " +
      "Use it whenever the user asks what the weather is like somewhere now.",
    parameters: JSON.stringify({
      type: "object",
      properties: {
        city: {
          type: "string",
          description: 'City name, such as "Lisbon" or "New York".',
        },
      },
      required: ["city"],
      additionalProperties: false,
    }),
  },
];

// A WIT `error` to return: the bindings turn a thrown value with a `payload`
// into `result::err(payload)`.
class ToolError extends Error {
  constructor(tag, val) {
    super(typeof val === "string" ? val : val.message);
    this.payload = { tag, val };
  }
}

function parseArguments(text) {
  let args;
  try {
    args = JSON.parse(text || "{}");
  } catch (e) {
    throw new ToolError("invalid-input", `the arguments are not valid JSON: ${e.message}`);
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    throw new ToolError("invalid-input", "the arguments must be a JSON object");
  }
  return args;
}

function cityOf(args) {
  const city = typeof args.city === "string" ? args.city.trim() : "";
  if (!city) {
    throw new ToolError("invalid-input", '`city` is required, such as {"city": "Lisbon"}');
  }
  if (city.length > MAX_CITY_CHARS) {
    throw new ToolError("invalid-input", `\`city\` is longer than ${MAX_CITY_CHARS} characters`);
  }
  return city;
}

function baseUrl() {
  const url = (config("base_url") ?? DEFAULT_BASE_URL).trim().replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(url)) {
    throw new ToolError(
      "unavailable",
      `config base_url ${JSON.stringify(url)} is not an http(s) URL`,
    );
  }
  return url;
}

function clip(text) {
  text = String(text).trim();
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

// What the service said in an error body: its `message` or `error` field
// when the body is JSON, else the text itself.
function serviceMessage(body, status, statusText) {
  let message = "";
  try {
    const json = JSON.parse(body);
    message = json.message ?? json.error?.message ?? json.error ?? json.detail ?? "";
    if (typeof message !== "string") message = JSON.stringify(message);
  } catch {
    message = body;
  }
  message = clip(message);
  return message || statusText || `HTTP ${status}`;
}

function retryAfterMs(header) {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return BigInt(Math.round(secs * 1000));
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : BigInt(Math.max(0, at - Date.now()));
}

function fmt(value, unit) {
  return typeof value === "number" && Number.isFinite(value) ? `${value} ${unit}` : `? ${unit}`;
}

function summaryLine(city, report) {
  const name = typeof report.city === "string" && report.city ? report.city : city;
  const condition =
    typeof report.condition === "string" && report.condition ? report.condition : "conditions unknown";
  return `${name}: ${fmt(report.temperature_c, "°C")}, ${condition}, wind ${fmt(report.wind_kph, "km/h")}`;
}

async function current(city) {
  const url = `${baseUrl()}/v1/current?city=${encodeURIComponent(city)}`;
  log("debug", "weather request", [["url", url]]);
  let response;
  try {
    response = await fetch(url, {
      headers: {
        accept: "application/json",
        authorization: "Bearer {{secret:weather_key}}",
      },
    });
  } catch (e) {
    // No response at all. The host refuses ungranted hosts (and secrets
    // that are not granted or have no value) before anything is sent;
    // StarlingMonkey only says "NetworkError", and the host appends its
    // reason to the error we return, e.g. "(host: x:80 is not among the
    // component's granted hosts)".
    const message = `request to ${url.split("?")[0]} failed: ${e?.message ?? e}`;
    if (/\bdenied\b/i.test(message)) {
      throw new ToolError("denied", message);
    }
    throw new ToolError("upstream", { status: undefined, message });
  }
  const body = await response.text();
  if (response.status === 429) {
    throw new ToolError("rate-limited", {
      retryAfterMs: retryAfterMs(response.headers.get("retry-after")),
      message: serviceMessage(body, response.status, response.statusText),
    });
  }
  if (!response.ok) {
    throw new ToolError("upstream", {
      status: response.status,
      message: serviceMessage(body, response.status, response.statusText),
    });
  }
  let report;
  try {
    report = JSON.parse(body);
  } catch {
    throw new ToolError("upstream", {
      status: response.status,
      message: `the service answered with something other than JSON: ${clip(body)}`,
    });
  }
  if (report === null || typeof report !== "object" || Array.isArray(report)) {
    throw new ToolError("upstream", {
      status: response.status,
      message: `the service answered with unexpected JSON: ${clip(body)}`,
    });
  }
  return `${summaryLine(city, report)}\n${JSON.stringify(report)}`;
}

export const tools = {
  listTools() {
    return SPECS;
  },

  async invoke(name, argumentsJson, _context) {
    if (name !== "weather.current") {
      throw new ToolError("not-found", `weather-js has no tool ${JSON.stringify(name)} (it has weather.current)`);
    }
    try {
      const content = await current(cityOf(parseArguments(argumentsJson)));
      return { content, isError: false, attachments: [] };
    } catch (e) {
      if (e instanceof ToolError) {
        log("debug", "tool failed", [["tool", name], ["error", e.message]]);
        throw e;
      }
      log("error", "tool crashed", [["tool", name], ["error", String(e?.stack ?? e)]]);
      throw new ToolError("internal", `${name}: ${e?.message ?? e}`);
    }
  },
};

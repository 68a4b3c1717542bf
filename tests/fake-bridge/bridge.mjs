// A scripted stand-in for bridges/whatsapp, for the host's tests. It speaks
// the same JSON lines (bridges/whatsapp/README.md) without WhatsApp:
//
// - at start it appends "start <pid>" to SESSION/starts.log and prints
//   `ready`; unpaired (no SESSION/auth/creds.json) it prints a `qr`, then
//   "pairs" (writes the creds file); then it prints `connected`;
// - every line a test drops into SESSION/inbox/ (one file each, taken in
//   name order) is printed as is; the line `#crash` makes it exit with
//   code 3 instead, `#hang-up` closes stdout;
// - every command it reads is appended to SESSION/commands.jsonl, and
//   `send`/`send_media` are answered with `sent`, `status` with `status`.
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";

const dirFlag = process.argv.indexOf("--session-dir");
const dir = dirFlag > 0 ? process.argv[dirFlag + 1] : process.env.WHATSAPP_SESSION_DIR;
if (!dir) {
  process.stdout.write(JSON.stringify({ type: "error", ref: null, message: "no --session-dir" }) + "\n");
  process.exit(2);
}
const inbox = path.join(dir, "inbox");
fs.mkdirSync(inbox, { recursive: true });
fs.appendFileSync(path.join(dir, "starts.log"), `start ${process.pid}\n`);

const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");
emit({ type: "ready" });
const creds = path.join(dir, "auth", "creds.json");
if (!fs.existsSync(creds)) {
  emit({ type: "qr", qr: "2@fake-qr-for-tests,openpista" });
  fs.mkdirSync(path.dirname(creds), { recursive: true });
  fs.writeFileSync(creds, JSON.stringify({ me: { id: "10000@s.whatsapp.net" } }));
}
emit({ type: "connected", jid: "10000@s.whatsapp.net", name: "Pista" });

let sent = 0;
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  fs.appendFileSync(path.join(dir, "commands.jsonl"), line + "\n");
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    emit({ type: "error", ref: null, message: "not JSON" });
    return;
  }
  if (cmd.cmd === "send" || cmd.cmd === "send_media") {
    sent += 1;
    emit({ type: "sent", ref: cmd.ref, id: `FAKE${process.pid}-${sent}` });
  } else if (cmd.cmd === "status") {
    emit({ type: "status", ref: cmd.ref, state: "open", jid: "10000@s.whatsapp.net", registered: true });
  }
}).on("close", () => process.exit(0));

setInterval(() => {
  for (const name of fs.readdirSync(inbox).sort()) {
    const file = path.join(inbox, name);
    if (name.startsWith(".")) continue;
    const text = fs.readFileSync(file, "utf8");
    fs.unlinkSync(file);
    for (const line of text.split("\n")) {
      if (line === "#crash") process.exit(3);
      if (line === "#hang-up") process.stdout.end();
      else if (line) process.stdout.write(line + "\n");
    }
  }
}, 20);

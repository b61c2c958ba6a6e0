// Runs the Worker (src/index.js) in workerd through Miniflare, on loopback, bound to a local R2
// bucket seeded from a folder: what the Python tests (tests/edge/) and the browser tests talk to.
//
//   node test/harness.mjs '{"seed": "/path/to/storage", "keys": "k1:…", "origins": "http://127.0.0.1:8000",
//                          "maxExpiry": 86400, "state": "/tmp/state"}'
//
// Prints one JSON line, {"url": "http://127.0.0.1:PORT/"}, once it listens. Then reads JSON lines
// on stdin, each answered with one line on stdout:
//   {"op": "delete", "prefix": "videos/7/"}  → {"deleted": N}   (what R2 holds goes; the cache stays)
//   {"op": "keys"}                          → {"keys": [...]}  (what R2 holds)
// It stops when stdin closes.

import {readdirSync, readFileSync, statSync} from "node:fs";
import {join, relative, sep} from "node:path";
import {createInterface} from "node:readline";
import {fileURLToPath} from "node:url";

import {Miniflare} from "miniflare";

const config = JSON.parse(process.argv[2]);
const root = fileURLToPath(new URL("..", import.meta.url));

const mf = new Miniflare({
  rootPath: root,
  scriptPath: join(root, "src", "index.js"),
  modules: true,
  modulesRules: [{type: "ESModule", include: ["**/*.js"]}],
  compatibilityDate: "2026-04-01",
  host: "127.0.0.1",
  port: 0,
  r2Buckets: ["BUCKET"],
  r2Persist: join(config.state, "r2"),
  cachePersist: join(config.state, "cache"),
  // The Worker's console (the viewer's line, errors) goes to stderr: stdout is this harness's answers.
  handleRuntimeStdio(stdout, stderr) {
    stdout.pipe(process.stderr);
    stderr.pipe(process.stderr);
  },
  bindings: {
    PLAYBACK_KEYS: config.keys,
    PLAYBACK_ORIGINS: config.origins || "",
    PLAYBACK_MAX_EXPIRY_SECONDS: String(config.maxExpiry || 86400),
  },
});

const url = await mf.ready;
const bucket = await mf.getR2Bucket("BUCKET");

function* files(folder) {
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else yield path;
  }
}

if (config.seed) {
  for (const path of files(config.seed)) {
    const bytes = readFileSync(path);  // a fresh ArrayBuffer: the proxy refuses a pooled Buffer
    await bucket.put(relative(config.seed, path).split(sep).join("/"),
                     bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
}

async function listAll(prefix) {
  const keys = [];
  let cursor;
  do {
    const page = await bucket.list({prefix, cursor});
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

process.stdout.write(JSON.stringify({url: String(url)}) + "\n");

const lines = createInterface({input: process.stdin});
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  let answer;
  if (command.op === "delete") {
    const keys = await listAll(command.prefix);
    for (const key of keys) await bucket.delete(key);
    answer = {deleted: keys.length};
  } else if (command.op === "keys") {
    answer = {keys: await listAll(command.prefix || "")};
  } else {
    answer = {error: `unknown op ${command.op}`};
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
await mf.dispose();

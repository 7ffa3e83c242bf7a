// Builds the UI bundle into dist/, only when its inputs changed.
//
// Run by the Python build (hatch_build.py) and, in a source checkout, by the
// server before it first serves the UI, so the bundle is never stale. Fresh:
// one hash over the inputs, compared with dist/.inputs. Stale: `npm ci` when
// package-lock.json changed since the last install, then esbuild.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, "dist");
const stampFile = path.join(dist, ".inputs");
const lockFile = path.join(here, "package-lock.json");
const installedLock = path.join(here, "node_modules", ".tidemill-lock");
const buildLock = path.join(here, ".build-lock");
const quiet = process.argv.includes("--quiet");

function files(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

function inputsHash() {
  const inputs = ["package.json", "package-lock.json", "build.mjs", "index.html"]
    .map((f) => path.join(here, f))
    .concat(files(path.join(here, "src")));
  const digest = createHash("sha256");
  for (const file of inputs) {
    digest.update(path.relative(here, file)).update("\0").update(fs.readFileSync(file)).update("\0");
  }
  return digest.digest("hex");
}

function read(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

function sha(text) {
  return createHash("sha256").update(text).digest("hex");
}

function log(message) {
  if (!quiet) console.error(`frontend: ${message}`);
}

async function withLock(fn) {
  // one builder at a time (several servers may start together); a stale lock expires
  for (let waited = 0; ; waited += 200) {
    try {
      fs.mkdirSync(buildLock);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      const age = Date.now() - fs.statSync(buildLock).mtimeMs;
      if (age > 300_000) fs.rmSync(buildLock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(buildLock, { recursive: true, force: true });
  }
}

function install() {
  const lock = read(lockFile);
  if (lock !== null && read(installedLock) === sha(lock)) return;
  log("installing packages (npm ci)");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const args = lock === null ? ["install"] : ["ci"];
  execFileSync(npm, [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: here,
    stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit"],
  });
  fs.writeFileSync(installedLock, sha(read(lockFile)));
}

async function bundle(digest) {
  const esbuild = await import("esbuild");
  const out = path.join(here, `dist.${process.pid}`);
  fs.rmSync(out, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: ["src/main.ts"],
    outdir: path.join(out, "assets"),
    entryNames: "[name]-[hash]",
    chunkNames: "[name]-[hash]",
    splitting: true,
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022"],
    metafile: true,
    logLevel: "warning",
  });
  const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === "src/main.ts");
  const js = path.basename(entry[0]);
  const css = path.basename(entry[1].cssBundle);
  const html = fs
    .readFileSync(path.join(here, "index.html"), "utf8")
    .replace("%APP_JS%", `/assets/${js}`)
    .replace("%APP_CSS%", `/assets/${css}`);
  fs.writeFileSync(path.join(out, "index.html"), html);
  for (const name of fs.readdirSync(path.join(out, "assets"))) {
    // served instead of the plain file to browsers that accept gzip
    const file = path.join(out, "assets", name);
    fs.writeFileSync(`${file}.gz`, gzipSync(fs.readFileSync(file), { level: 9 }));
  }
  fs.writeFileSync(path.join(out, ".inputs"), digest);
  // swap in whole, so a server never serves half a bundle
  const old = path.join(here, `dist.old.${process.pid}`);
  if (fs.existsSync(dist)) fs.renameSync(dist, old);
  fs.renameSync(out, dist);
  fs.rmSync(old, { recursive: true, force: true });
}

const fresh = () => read(stampFile) === inputsHash() && fs.existsSync(path.join(dist, "index.html"));
if (process.argv.includes("--force") || !fresh()) {
  await withLock(async () => {
    if (fresh()) return; // another builder just did it
    install();
    const started = Date.now();
    await bundle(inputsHash());
    log(`bundle built in ${Date.now() - started} ms`);
  });
}

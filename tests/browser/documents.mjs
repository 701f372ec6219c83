// Trusted documents and APQ in a real browser: a front-end page on another
// (allowed) origin asks for the member's points by a trusted document's id
// alone, then runs Apollo's APQ round with the hash the browser computes
// (not found, sent with the query, then found by hash over GET).
//   node documents.mjs GRAPH_URL MEMBER_TOKEN MANIFEST SCREENSHOT
import fs from "node:fs";
import http from "node:http";
import { chromium } from "playwright-core";

const [graphUrl, token, manifestPath, screenshot] = process.argv.slice(2);
if (!graphUrl || !token || !manifestPath || !screenshot) {
  console.error("usage: node documents.mjs GRAPH_URL MEMBER_TOKEN MANIFEST SCREENSHOT");
  process.exit(2);
}
const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
const myPoints = Object.keys(manifest).find((id) => manifest[id].startsWith("query MyPoints"));
if (!myPoints) {
  console.error(`no MyPoints document in ${manifestPath}`);
  process.exit(2);
}

const page = `<!doctype html><meta charset="utf-8"><title>documents</title>
<p id="points">asking</p><p id="apq">not yet</p>
<script>
const graph = ${JSON.stringify(graphUrl)};
const auth = { "authorization": "Bearer " + ${JSON.stringify(token)} };
async function post(body) {
  const answer = await fetch(graph, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify(body),
  });
  return answer.json();
}
async function sha256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
window.points = async () => {
  const body = await post({ documentId: ${JSON.stringify(myPoints)} });
  if (!body.data) return "error: " + JSON.stringify(body.errors);
  const accounts = body.data.me.pointsAccounts;
  if (accounts.length === 0) return null;
  const points = accounts.reduce((n, a) => n + Number(a.activeBalance) + Number(a.pendingBalance), 0);
  const shown = "member " + body.data.me.id + ": " + points + " points";
  document.getElementById("points").textContent = shown;
  return shown;
};
window.apq = async () => {
  const query = "{ programmes { id pointsName } } # " + Date.now() + Math.random();
  const extensions = { persistedQuery: { version: 1, sha256Hash: await sha256(query) } };
  const first = await post({ extensions });
  const code = first.errors && first.errors[0].extensions.code;
  if (code !== "PERSISTED_QUERY_NOT_FOUND") return "first: " + JSON.stringify(first);
  const registered = await post({ query, extensions });
  if (!registered.data) return "registered: " + JSON.stringify(registered);
  const url = graph + "?extensions=" + encodeURIComponent(JSON.stringify(extensions));
  const byHash = await (await fetch(url, { headers: auth })).json();
  if (JSON.stringify(byHash) !== JSON.stringify(registered)) return "by hash: " + JSON.stringify(byHash);
  const shown = "APQ: " + byHash.data.programmes.length + " programmes by hash";
  document.getElementById("apq").textContent = shown;
  return shown;
};
</script>`;
const server = http.createServer((_, res) => {
  res.writeHead(200, { "content-type": "text/html" });
  res.end(page);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const origin = `http://localhost:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failure = null;
try {
  const tab = await browser.newPage();
  const console_ = [];
  tab.on("console", (m) => console_.push(m.text()));
  await tab.goto(`${origin}/`);
  let points = null;
  // The demo member's points arrive through the order feed.
  for (let i = 0; i < 60 && !points; i++) {
    points = await tab.evaluate(() => window.points());
    if (!points) await new Promise((ok) => setTimeout(ok, 1000));
  }
  const apq = await tab.evaluate(() => window.apq());
  await tab.screenshot({ path: screenshot }).catch(() => {});
  if (!/^member \S+: \d+ points$/.test(points || "")) {
    failure = `the points by document id: ${points} (${console_.join(" | ")})`;
  } else if (!/^APQ: 3 programmes by hash$/.test(apq || "")) {
    failure = `the APQ round: ${apq} (${console_.join(" | ")})`;
  } else {
    console.log(`documents: ${points} by id ${myPoints.slice(0, 12)}…; ${apq}`);
  }
} catch (err) {
  failure = `the page did not load: ${err.message}`;
}
await browser.close();
server.close();
if (failure) {
  console.error(`FAIL: ${failure} (screenshot ${screenshot})`);
  process.exit(1);
}

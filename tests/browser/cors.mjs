// CORS in a real browser: a front-end page served from another origin (its
// own port) calls the graph with a member's token and shows the member's
// points; the same page from an origin the gateway does not allow is
// refused by the browser. `up --demo` allows http://localhost:* only.
//   node cors.mjs GRAPH_URL MEMBER_TOKEN SCREENSHOT_PREFIX
import http from "node:http";
import { chromium } from "playwright-core";

const [graphUrl, token, screenshots] = process.argv.slice(2);
if (!graphUrl || !token || !screenshots) {
  console.error("usage: node cors.mjs GRAPH_URL MEMBER_TOKEN SCREENSHOT_PREFIX");
  process.exit(2);
}

// The front-end: one page that asks the graph for the member's points.
const page = `<!doctype html><meta charset="utf-8"><title>points</title>
<p id="points">asking</p>
<script>
async function ask() {
  const answer = await fetch(${JSON.stringify(graphUrl)}, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "authorization": "Bearer " + ${JSON.stringify(token)},
    },
    body: JSON.stringify({ query: "{ me { id pointsAccounts { activeBalance pendingBalance } } }" }),
  });
  const body = await answer.json();
  const accounts = body.data.me.pointsAccounts;
  if (accounts.length === 0) return null;
  const points = accounts.reduce((n, a) => n + Number(a.activeBalance) + Number(a.pendingBalance), 0);
  return "member " + body.data.me.id + ": " + points + " points";
}
window.show = async () => {
  try {
    const shown = await ask();
    if (shown) document.getElementById("points").textContent = shown;
    return shown;
  } catch (err) {
    document.getElementById("points").textContent = "refused: " + err.message;
    return "refused";
  }
};
</script>`;
const server = http.createServer((_, res) => {
  res.writeHead(200, { "content-type": "text/html" });
  res.end(page);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const port = server.address().port;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    // A second name for this machine: an origin the gateway does not allow.
    "--host-resolver-rules=MAP elsewhere.test 127.0.0.1"],
});
let failure = null;
const consoleOf = {};
async function visit(origin, screenshot) {
  const tab = await browser.newPage();
  consoleOf[origin] = [];
  tab.on("console", (m) => consoleOf[origin].push(m.text()));
  await tab.goto(`${origin}/`);
  let shown = null;
  // The demo member's points arrive through the order feed: ask again
  // for up to a minute.
  for (let i = 0; i < 60 && !shown; i++) {
    shown = await tab.evaluate(() => window.show());
    if (!shown) await new Promise((ok) => setTimeout(ok, 1000));
  }
  await tab.screenshot({ path: screenshot }).catch(() => {});
  await tab.close();
  return shown;
}
try {
  const allowed = await visit(`http://localhost:${port}`, `${screenshots}-allowed.png`);
  if (!/^member \S+: \d+ points$/.test(allowed || "")) {
    failure = `the page from http://localhost:${port} did not show the member's points: ${allowed}`;
  }
  const elsewhere = `http://elsewhere.test:${port}`;
  const refused = await visit(elsewhere, `${screenshots}-refused.png`);
  if (refused !== "refused") {
    failure = `the page from ${elsewhere} was let in: ${refused}`;
  } else if (!consoleOf[elsewhere].some((m) => m.includes("CORS policy"))) {
    // Refused, but not by CORS (the name did not resolve, the graph was down).
    failure = `the page from ${elsewhere} failed for another reason: ${consoleOf[elsewhere].join(" | ")}`;
  }
  if (!failure) console.log(`CORS: ${allowed} from http://localhost:${port}; http://elsewhere.test:${port} refused`);
} catch (err) {
  failure = `the pages did not load: ${err.message}`;
}
await browser.close();
server.close();
if (failure) {
  console.error(`FAIL: ${failure} (screenshots ${screenshots}-*.png)`);
  process.exit(1);
}

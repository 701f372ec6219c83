// GraphiQL in a real browser with no network but the graph's own origin:
// the page must render, run `{ programmes { id } }` and show the answer.
//   node graphiql.mjs GRAPH_URL SCREENSHOT.png
// Exits 1 (with a screenshot when it got that far) if anything is missing,
// or if the page asked for anything from another origin.
import { chromium } from "playwright-core";

const [graphUrl, screenshot] = process.argv.slice(2);
if (!graphUrl || !screenshot) {
  console.error("usage: node graphiql.mjs GRAPH_URL SCREENSHOT.png");
  process.exit(2);
}
const origin = new URL(graphUrl).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const elsewhere = [];
let failure = null;
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
// Networking off: only the graph's own origin answers.
await page.route("**/*", (route) => {
  const url = route.request().url();
  if (url.startsWith(origin) || url.startsWith("data:")) return route.continue();
  elsewhere.push(url);
  return route.abort();
});
try {
  const query = "{ programmes { id } }";
  await page.goto(`${graphUrl}?query=${encodeURIComponent(query)}`);
  await page.locator(".graphiql-container").waitFor({ timeout: 20000 });
  await page.locator(".graphiql-execute-button").click();
  const result = page.locator(".result-window");
  await result.getByText("coffee-points").waitFor({ timeout: 20000 });
  const shown = await result.innerText();
  for (const id of ["apparel-points", "coffee-points", "cinema-points"]) {
    if (!shown.includes(id)) failure = `the answer shown lacks ${id}: ${shown}`;
  }
} catch (err) {
  failure = `GraphiQL did not render and answer: ${err.message}`;
}
if (elsewhere.length > 0) failure = `the page asked other origins: ${elsewhere.join(", ")}`;
await page.screenshot({ path: screenshot }).catch(() => {});
await browser.close();
if (failure) {
  console.error(`FAIL: ${failure} (screenshot ${screenshot})`);
  process.exit(1);
}
console.log(`GraphiQL rendered and answered offline (screenshot ${screenshot})`);

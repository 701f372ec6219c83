// Composes subgraph SDLs into a Federation v2 supergraph with the pinned
// reference composer. Usage:
//   node compose.mjs OUT name=url=file [name=url=file ...]
// Writes OUT on success; prints every composition error and exits 1 if not.
import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "graphql";
import { composeServices, compositionHasErrors } from "@theguild/federation-composition";

const [out, ...specs] = process.argv.slice(2);
if (!out || specs.length === 0) {
  console.error("usage: node compose.mjs OUT name=url=file [name=url=file ...]");
  process.exit(2);
}

const services = specs.map((spec) => {
  const [name, url, file] = spec.split("=");
  if (!name || !url || !file) {
    console.error(`not name=url=file: ${spec}`);
    process.exit(2);
  }
  try {
    return { name, url, typeDefs: parse(readFileSync(file, "utf8")) };
  } catch (err) {
    console.error(`${name}: ${file} is not valid SDL: ${err.message}`);
    process.exit(1);
  }
});

const result = composeServices(services);
if (compositionHasErrors(result)) {
  console.error(`composition failed with ${result.errors.length} error(s):`);
  for (const err of result.errors) {
    const code = err.extensions?.code ? ` [${err.extensions.code}]` : "";
    console.error(`  - ${err.message}${code}`);
  }
  process.exit(1);
}
writeFileSync(out, result.supergraphSdl.endsWith("\n") ? result.supergraphSdl : `${result.supergraphSdl}\n`);
console.log(`wrote ${out} from ${services.map((s) => s.name).join(", ")}`);

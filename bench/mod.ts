/** `deno task bench`: runs every benchmark script in bench/ in turn; each writes bench/results/<name>.json. */
const here = new URL(".", import.meta.url).pathname;
const scripts = [...Deno.readDirSync(here)].filter((e) =>
  e.isFile && e.name.endsWith(".ts") && e.name !== "mod.ts"
)
  .map((e) => e.name).sort();
if (scripts.length === 0) console.log("no benchmarks yet");
let failed = 0;
for (const name of scripts) {
  console.log(`== bench/${name}`);
  const { code } = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", `${here}${name}`] }).spawn()
    .status;
  if (code !== 0) failed++;
}
Deno.exit(failed ? 1 : 0);

// Copies the pinned front-end packages into static/vendor, where Django's staticfiles finds them.
import { copyFileSync, mkdirSync } from "node:fs";

const files = [
  ["node_modules/htmx.org/dist/htmx.min.js", "static/vendor/htmx.min.js"],
  // The light build plays live HLS without the subtitle and alternate-audio code we do not use.
  ["node_modules/hls.js/dist/hls.light.min.js", "static/vendor/hls.light.min.js"],
  // The bundle names its source map; the manifest storage of collectstatic follows that
  // reference and fails the build if the file is absent.
  ["node_modules/hls.js/dist/hls.light.min.js.map", "static/vendor/hls.light.min.js.map"],
];
mkdirSync("static/vendor", { recursive: true });
for (const [from, to] of files) {
  copyFileSync(from, to);
  console.log(`static: ${from} -> ${to}`);
}

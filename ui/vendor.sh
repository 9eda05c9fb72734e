#!/usr/bin/env bash
# Re-vendor the UI assets from the npm registry and rebuild the Tailwind CSS (run after changing ui classes).
# The outputs are committed, so the app itself needs neither node nor a network.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="$here/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"
npm pack --silent franken-ui@2.0.0 daisyui@4.12.24 htmx.org@2.0.7 world-atlas@2.0.2 >/dev/null
for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
cp franken-ui-2.0.0/package/dist/css/core.min.css "$out/franken-core.min.css"
cp franken-ui-2.0.0/package/dist/js/core.iife.js "$out/franken-core.iife.js"
cp franken-ui-2.0.0/package/dist/js/icon.iife.js "$out/franken-icon.iife.js"
cp daisyui-4.12.24/package/dist/styled.css "$out/daisyui-styled.css"   # components; MonsterUI maps the theme
cp htmx.org-2.0.7/package/dist/htmx.min.js "$out/htmx.min.js"
cp world-atlas-2.0.2/package/countries-110m.json "$out/countries-110m.json"  # Natural Earth outlines for the map
cp world-atlas-2.0.2/package/countries-50m.json "$root/geo/data/countries-50m.json"  # which country a photo is in
npm init -y >/dev/null
npm install --silent tailwindcss@3.4.17 >/dev/null
monsterui=$(cd "$root" && python -c 'import monsterui, os; print(os.path.dirname(monsterui.__file__))')
cat > tailwind.config.js <<JS
module.exports = {
  darkMode: 'selector',
  content: ['$root/ui/**/*.py', '$root/routes/**/*.py', '$root/app.py', '$monsterui/**/*.py'],
  safelist: [{pattern: /^grid-cols-\d+$/, variants: ['sm', 'md', 'lg', 'xl']}],
}
JS
printf '@tailwind base;\n@tailwind components;\n@tailwind utilities;\n' > in.css
npx tailwindcss -c tailwind.config.js -i in.css -o "$out/tailwind.min.css" --minify
ls -la "$out"

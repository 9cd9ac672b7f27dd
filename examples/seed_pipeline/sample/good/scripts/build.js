// A dependency-free build: strips the type annotations this sample uses and writes CommonJS to dist/.
const fs = require('fs');
const path = require('path');

function compile(source) {
  return source
    .replace(/^import \{ (\w+) \} from '([^']+)';$/gm, "const { $1 } = require('$2');")
    .replace(/^export function (\w+)/gm, 'exports.$1 = function $1')
    .replace(/\((\w+): \w+\): \w+ \{/g, '($1) {');
}

for (const file of ['bin/app.ts', 'lib/greeting.ts']) {
  const target = path.join('dist', file.replace(/\.ts$/, '.js'));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, compile(fs.readFileSync(file, 'utf8')));
  console.log(`build: ${file} -> ${target}`);
}

// A dependency-free lint: every TypeScript file ends with a newline and has no tab.
const fs = require('fs');
const path = require('path');

function sources(folder) {
  return fs.readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(folder, entry.name);
    return entry.isDirectory() ? sources(file) : file.endsWith('.ts') ? [file] : [];
  });
}

const problems = ['bin', 'lib'].flatMap(sources).filter((file) => {
  const text = fs.readFileSync(file, 'utf8');
  return !text.endsWith('\n') || text.includes('\t');
});
problems.forEach((file) => console.error(`lint: ${file}: a tab, or no final newline`));
console.log(`lint: ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);

// A dependency-free test run on the built output, with a JUnit report in reports/junit.xml.
const assert = require('assert');
const fs = require('fs');

const cases = [
  ['greets by name', () => assert.strictEqual(require('../dist/lib/greeting').greeting('you'), 'hello, you')],
];
const results = cases.map(([name, run]) => {
  try {
    run();
    return { name };
  } catch (error) {
    return { name, error: String(error.message) };
  }
});
const failures = results.filter((result) => result.error);
const escape = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
const body = results
  .map((r) => `    <testcase name="${escape(r.name)}">${r.error ? `<failure message="${escape(r.error)}"/>` : ''}</testcase>`)
  .join('\n');
fs.mkdirSync('reports', { recursive: true });
fs.writeFileSync(
  'reports/junit.xml',
  `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="sample" tests="${results.length}" ` +
    `failures="${failures.length}">\n${body}\n  </testsuite>\n</testsuites>\n`,
);
results.forEach((r) => console.log(`${r.error ? 'FAIL' : 'ok'} ${r.name}${r.error ? `: ${r.error}` : ''}`));
process.exit(failures.length ? 1 : 0);

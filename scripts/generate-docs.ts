// `npm run docs:generate`: rewrites the generated parts of the docs (scripts/lib/generated-docs.ts)
// from the code. test/docs-generated.test.ts fails when they are stale.
import { writeFileSync } from "node:fs";
import { generatedDocs } from "./lib/generated-docs.ts";

for (const doc of generatedDocs()) {
  if (doc.generated === doc.committed) {
    console.log(`${doc.path}: up to date`);
  } else {
    writeFileSync(doc.file, doc.generated);
    console.log(`${doc.path}: written`);
  }
}

// The generated parts of the docs (scripts/lib/generated-docs.ts) are what the code says now:
// rendered in memory and compared with the committed files. Fix a failure with
// `npm run docs:generate` and commit the doc.
import { describe, expect, test } from "vitest";
import { generatedDocs } from "../scripts/lib/generated-docs.ts";

describe("generated docs", () => {
  for (const doc of generatedDocs()) {
    test(`${doc.path} is up to date (npm run docs:generate)`, () => {
      expect(
        doc.committed,
        `${doc.path} is stale: run npm run docs:generate and commit it`,
      ).toBe(doc.generated);
    });
  }
});

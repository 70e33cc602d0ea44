// Ends every run with the plain line CI reads: `tests: N passed, M failed`.
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<unknown>,
  ): void {
    let passed = 0;
    let failed = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
      }
      // A file that failed to load has no tests to count: count it as a failure.
      if (
        module.state() === "failed" &&
        ![...module.children.allTests()].some(
          (t) => t.result().state === "failed",
        )
      )
        failed++;
    }
    failed += unhandledErrors.length;
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed\n`);
  }
}

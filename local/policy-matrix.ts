import type { EvaluationResult } from '@cloud-copilot/iam-simulate';

/**
 * Named cases with expected decisions, evaluated in one go: the isolation and trust
 * matrices list every case, and a report names each one whose decision differs.
 */

/** What a case must come to: `explicit-deny` requires a matching Deny statement. */
export type Expectation = 'allow' | 'deny' | 'explicit-deny';

/** One named case of a matrix. */
export interface MatrixCase {
  /** Says the behaviour: "denies google user alice GetObject on alice2's prefix". */
  readonly name: string;
  readonly expect: Expectation;
}

/** The outcome of a matrix: how many cases ran, and one line per case that went wrong. */
export interface MatrixReport {
  readonly evaluated: number;
  readonly failures: string[];
}

/** Evaluates every case and lists the ones whose decision differs from the expectation. */
export function runMatrix<C extends MatrixCase>(
  cases: readonly C[],
  evaluate: (c: C) => EvaluationResult,
): MatrixReport {
  const failures: string[] = [];
  for (const c of cases) {
    const decision = evaluate(c);
    const ok =
      c.expect === 'allow'
        ? decision === 'Allowed'
        : c.expect === 'deny'
          ? decision !== 'Allowed'
          : decision === 'ExplicitlyDenied';
    if (!ok) failures.push(`${c.name}: expected ${c.expect}, got ${decision}`);
  }
  return { evaluated: cases.length, failures };
}

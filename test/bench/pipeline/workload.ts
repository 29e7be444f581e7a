// What the load generator sends: one contact per task, the same for recsync and the baseline.

/** The baseline's queue (hash-tagged like recsync's, so both live on one slot). */
export const baselineQueue = '{bench}';

/**
 * A contact of a realistic size (about 330 bytes of JSON). The record id reaches the CRM as
 * `recsync_id` and the version as the job title (`v<n>`): that is how the sandbox's clerk tells
 * which version of which record an acknowledged write carried, for PATCHes too.
 */
export function payloadOf(recordId: string, version: number): Record<string, unknown> {
  return {
    email: `${recordId}@bench.example.com`,
    firstName: 'Ada',
    lastName: `Lovelace ${recordId}`,
    phone: '+44 20 7946 0000',
    title: `v${version}`,
    lifecycle: 'lead',
    company: { name: 'Analytical Engines Ltd', domain: 'engines.example.com' },
    address: { street: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'gb' },
  };
}

/** Task `i` of a run tagged `tag`: its own record, or with `hotRecords`, one of that many records updated over and over. */
export function taskOf(tag: string, i: number, hotRecords: number | undefined): { recordId: string; version: number } {
  if (hotRecords) return { recordId: `${tag}-h${i % hotRecords}`, version: Math.floor(i / hotRecords) + 1 };
  return { recordId: `${tag}-${i}`, version: 1 };
}

import { createHash } from 'node:crypto';
import type { ConflictPolicy } from '../connectors/load-connector.ts';
import type { ConnectorRegistry, ConnectorSlot } from '../connectors/registry.ts';

/**
 * The pieces both directions of a two-way sync agree on: where the way back keeps its record
 * state and queue, what counts as "what we wrote", and who wins a conflict.
 */

/**
 * The way back of connector `name` has its own record state, counters, dead letters and queue
 * under this name (`hubspot.in`): the same machinery as a connector, with the CRM's object id as
 * the record id. A dot never occurs in a connector's name, so the two cannot collide.
 */
/**
 * The connector slot a record-state name belongs to: `<name>` itself, or `<name>.in` (its way
 * back) when that connector's loaded configuration declares `inbound`. Undefined otherwise.
 */
export function slotOfFlow(registry: ConnectorRegistry, name: string): { slot: ConnectorSlot; inbound: boolean } | undefined {
  const inbound = name.endsWith('.in') && name !== '.in';
  const slot = registry.slot(inbound ? name.slice(0, -3) : name);
  if (!slot || (inbound && !slot.current?.inbound)) return undefined;
  return { slot, inbound };
}

export function inboundName(connector: string): string {
  return `${connector}.in`;
}

/** The fingerprint of a delete: the CRM no longer shows the object. */
export const deletedFingerprint = 'deleted';

/**
 * What the CRM holds (or what we wrote) of the properties the mapping models, as one short hash.
 * Missing and empty values are the same (HubSpot stores "" as no value), and values compare as
 * the strings the CRM shows.
 */
export function fingerprint(properties: readonly string[], values: Readonly<Record<string, unknown>>): string {
  const kept: Array<[string, string]> = [];
  for (const name of [...properties].sort()) {
    const value = values[name];
    if (value === undefined || value === null || value === '') continue;
    kept.push([name, typeof value === 'string' ? value : JSON.stringify(value)]);
  }
  return createHash('sha256').update(JSON.stringify(kept)).digest('base64url').slice(0, 22);
}

/**
 * Who wins when the CRM changed a record (at `crmChangedAt`, the CRM's clock) while a change of
 * ours (accepted at `oursAcceptedAt`, Redis's clock) was still owed to it. `lastWriter` compares
 * the two times, so it assumes the clocks agree to within the gap between the two changes.
 */
export function conflictWinner(policy: ConflictPolicy, crmChangedAt: number, oursAcceptedAt: number): 'crm' | 'ours' {
  if (policy === 'crm' || policy === 'ours') return policy;
  return crmChangedAt > oursAcceptedAt ? 'crm' : 'ours';
}

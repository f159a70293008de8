// Names Mako keeps for itself in every destination. The SDK states them (config validation
// refuses them); the engine and the destinations enforce them whatever a connector declares.

/** A record field of this prefix is one of Mako's system columns (`_mako_deleted_at`…). */
export const SYSTEM_FIELD_PREFIX = "_mako_";

/**
 * Entity names Mako gives its own tables and records: `_mako…` (temporary tables, metadata
 * tables) and `…__mako_…` (a full refresh's shadow `users__mako_shadow`, MySQL's swap marks).
 */
export const isReservedEntityName = (name: string) => /^_mako/i.test(name) || /__mako_/i.test(name);

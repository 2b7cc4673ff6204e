import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { loadProtoRoot, lookupType, protoDir } from './index.js';

describe('proto root', () => {
  it('loads every .proto of its directory once, keeping field names', () => {
    const root = loadProtoRoot();
    expect(loadProtoRoot()).toBe(root);
    const files = readdirSync(protoDir).filter((f) => f.endsWith('.proto'));
    expect(files).toContain('ops.proto');
    expect(lookupType('pb.Op').fields['constraints']?.id).toBe(11);
    expect(lookupType('pb.FileActionCopy').fields['attemptUnpackDockerCompatibility']?.id).toBe(7);
    expect(lookupType('pb.Meta').fields['proxy_env']?.id).toBe(5);
    expect(lookupType('pb.OpMetadata').fields['caps']?.id).toBe(5);
    expect(lookupType('pb.Definition').fields['metadata']?.id).toBe(2);
  });
});

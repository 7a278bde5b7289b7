/**
 * The JSON Schema users point their editor at (`"$schema": ".../manifest.schema.json"`),
 * generated from the zod schema so the two cannot drift. scripts/gen-manifest-schema.ts
 * writes it to schema/manifest.schema.json; a test checks the committed file is current.
 */
import { z } from 'zod';
import { Manifest, PredictManifest } from './schema';

/** The manifest's JSON Schema (draft 2020-12) as formatted, newline-terminated text: a training or an inference manifest. */
export function manifestJsonSchemaText(): string {
  const generated = z.toJSONSchema(z.union([Manifest, PredictManifest]), { target: 'draft-2020-12', io: 'input', unrepresentable: 'throw' });
  const schema = {
    ...generated,
    title: 'Sage manifest',
    description:
      'A long-tailed image dataset and the Sage/LIFT training runs to do on it, or (kind "predict") images to label with a trained adapter. Reference: docs/manifest.md.',
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

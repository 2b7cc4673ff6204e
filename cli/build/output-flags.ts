// The output flags of `build` (-o/--output, --annotation, --iidfile, --metadata-file): registered on the
// command and folded into the BuildRequest. Kept apart from commands/build.ts so that the
// output work touches the shared command file in two lines.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { collect } from '../commands/command.js';
import { parseAnnotations } from './annotations.js';
import { isImageStoreOutput, parseOutputs } from './outputs.js';
import type { BuildRequest } from './types.js';

export interface OutputFlags {
  output?: string[];
  annotation?: string[];
  iidfile?: string;
  metadataFile?: string;
}

export function registerOutputOptions(command: Command): void {
  command
    .option('-o, --output <PATH|-|type=TYPE[,K=V]>', 'output destination: DIR (type=local,dest=DIR), - (a tar on stdout), type=local|tar|oci|docker|image|registry[,dest=...][,name=...][,push=true] (repeatable)', collect)
    .option('--annotation <[TYPE:]KEY=VALUE>', 'add an annotation to the image (TYPE: manifest, index, manifest-descriptor, index-descriptor; repeatable); refused on dockerd, whose image store and push carry none', collect)
    .option('--iidfile <FILE>', 'write the image ID to FILE')
    .option('--metadata-file <FILE>', 'write build result metadata (and the trace and attestation digests) to FILE');
}

/** The request's output fields: the parsed outputs, with names and push from an image output. */
export function outputRequest(flags: OutputFlags, request: BuildRequest): Partial<BuildRequest> {
  const parsed = parseOutputs(flags.output ?? [], { ...(request.push === true ? { push: true } : {}), tags: request.tags, ...(flags.iidfile === undefined ? {} : { iidfile: flags.iidfile }) });
  const signs = request.key !== undefined || request.keyless === true;
  if (signs && parsed.outputs.length > 0 && !parsed.outputs.some(isImageStoreOutput)) {
    throw new UsageError('bad-flag', `${request.keyless === true ? '--keyless' : '--key'} signs statements about an image: add an image output (-o type=image) or leave out -o`);
  }
  const annotations = parseAnnotations(flags.annotation ?? []);
  return {
    ...(parsed.outputs.length === 0 ? {} : { outputs: parsed.outputs }),
    ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
    ...(parsed.names.length === 0 ? {} : { tags: [...request.tags, ...parsed.names] }),
    ...(parsed.push ? { push: true } : {}),
    ...(flags.iidfile === undefined ? {} : { iidfile: flags.iidfile }),
    ...(flags.metadataFile === undefined ? {} : { metadataFile: flags.metadataFile }),
  };
}

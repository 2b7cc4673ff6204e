// What a step's records are made of, built from its events as they arrive.
import { FileBuilder } from './files.js';
import { NetworkBuilder } from './network.js';
import { ProcessBuilder, type RecordContext } from './processes.js';
import type { KernelEvent } from './records.js';

/** What a speculative builder needs: everything a step's records are made from. */
export class StepBuilder {
  readonly processes: ProcessBuilder;
  readonly files = new FileBuilder();
  readonly network = new NetworkBuilder();

  constructor(ctx: RecordContext) {
    this.processes = new ProcessBuilder(ctx);
  }

  add(ev: KernelEvent): void {
    switch (ev.kind) {
      case 'exec':
      case 'fork':
      case 'exit':
        this.processes.add(ev);
        break;
      case 'file':
        this.files.add(ev);
        break;
      case 'net':
        this.network.add(ev);
        break;
      default:
        break;
    }
  }
}

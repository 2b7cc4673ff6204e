// A service the session serves besides its own (health, files, secrets, credentials): its
// gRPC name, as a .proto in frontend/proto declares it, and its handlers. The session
// registers each one and announces its methods to the daemon.
import type * as grpc from '@grpc/grpc-js';

export interface SessionService {
  /** Fully qualified, e.g. `moby.sshforward.v1.SSH`. */
  name: string;
  handlers: grpc.UntypedServiceImplementation;
}

// The Docker Engine API client: where dockerd is (DOCKER_HOST), pushing an image it holds,
// and inspecting its local images and containers. The one place tracebuild talks to
// dockerd's Engine API; BuildKit's gRPC and session upgrades are frontend/buildkit's.
export { EngineError, type EngineErrorCode } from './errors.js';
export { engineTarget, type EngineTarget } from './target.js';
export {
  JsonMessageSplitter,
  enginePush,
  messageError,
  registryAuthHeader,
  type EnginePushOptions,
  type EnginePushResult,
  type PushMessage,
} from './push.js';
export { inspectContainer, inspectImage, type LocalContainer, type LocalImage } from './inspect.js';

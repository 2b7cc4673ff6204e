// The image config as BuildKit's Dockerfile frontend (v0.8) models it: the OCI image
// config plus Docker's extra fields. Only known fields of a base image survive (the
// frontend decodes the base config into this struct and re-encodes it), and JSON keys
// come out in the order Go's encoder writes them.
import type { Platform } from './types.js';

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  /** Docker 25+ (Engine API 1.44). */
  StartInterval?: number;
  Retries?: number;
}

export interface ImageConfigFields {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  OnBuild?: string[];
  StopTimeout?: number;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageSpec {
  author?: string;
  architecture: string;
  os: string;
  rootfs: { type: string; diff_ids: string[] | null };
  history: HistoryEntry[];
  config: ImageConfigFields;
  variant?: string;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function defaultPathEnv(os: string): string {
  return os === 'windows' ? '' : DEFAULT_PATH;
}

/** The config of `FROM scratch`. */
export function emptyImage(p: Platform): ImageSpec {
  const img: ImageSpec = {
    architecture: p.architecture,
    os: p.os,
    rootfs: { type: 'layers', diff_ids: null },
    history: [],
    config: { WorkingDir: '/', Env: ['PATH=' + defaultPathEnv(p.os)] },
  };
  if (p.variant) img.variant = p.variant;
  return img;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function strList(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out = v.filter((x): x is string => typeof x === 'string');
  return out.length > 0 ? out : undefined;
}

function set(v: unknown): Record<string, Record<string, never>> | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length === 0) return undefined;
  const out: Record<string, Record<string, never>> = {};
  for (const k of keys) out[k] = {};
  return out;
}

function strMap(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return Object.keys(out).length > 0 ? out : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && v !== 0 ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Reads a base image's config JSON, keeping the fields the frontend knows (its `created` is dropped). */
export function parseImage(raw: Record<string, unknown>): ImageSpec {
  const c = obj(raw['config']);
  const rootfs = obj(raw['rootfs']);
  const hc = c['Healthcheck'] ? obj(c['Healthcheck']) : undefined;
  const config: ImageConfigFields = {};
  const assign = <K extends keyof ImageConfigFields>(k: K, v: ImageConfigFields[K] | undefined): void => {
    if (v !== undefined) config[k] = v;
  };
  assign('User', str(c['User']));
  assign('ExposedPorts', set(c['ExposedPorts']));
  assign('Env', strList(c['Env']));
  assign('Entrypoint', strList(c['Entrypoint']));
  assign('Cmd', strList(c['Cmd']));
  assign('Volumes', set(c['Volumes']));
  assign('WorkingDir', str(c['WorkingDir']));
  assign('Labels', strMap(c['Labels']));
  assign('StopSignal', str(c['StopSignal']));
  if (hc) {
    const h: HealthConfig = {};
    const t = strList(hc['Test']);
    if (t) h.Test = t;
    const iv = num(hc['Interval']);
    if (iv !== undefined) h.Interval = iv;
    const to = num(hc['Timeout']);
    if (to !== undefined) h.Timeout = to;
    const sp = num(hc['StartPeriod']);
    if (sp !== undefined) h.StartPeriod = sp;
    const si = num(hc['StartInterval']);
    if (si !== undefined) h.StartInterval = si;
    const r = num(hc['Retries']);
    if (r !== undefined) h.Retries = r;
    config.Healthcheck = h;
  }
  if (c['ArgsEscaped'] === true) config.ArgsEscaped = true;
  assign('OnBuild', strList(c['OnBuild']));
  assign('StopTimeout', typeof c['StopTimeout'] === 'number' ? c['StopTimeout'] : undefined);
  assign('Shell', strList(c['Shell']));

  const history: HistoryEntry[] = [];
  if (Array.isArray(raw['history'])) {
    for (const h of raw['history']) {
      const o = obj(h);
      const e: HistoryEntry = {};
      if (str(o['created'])) e.created = o['created'] as string;
      if (str(o['created_by'])) e.created_by = o['created_by'] as string;
      if (str(o['author'])) e.author = o['author'] as string;
      if (str(o['comment'])) e.comment = o['comment'] as string;
      if (o['empty_layer'] === true) e.empty_layer = true;
      history.push(e);
    }
  }
  const img: ImageSpec = {
    architecture: str(raw['architecture']) ?? '',
    os: str(raw['os']) ?? '',
    rootfs: {
      type: str(rootfs['type']) ?? '',
      diff_ids: Array.isArray(rootfs['diff_ids']) ? rootfs['diff_ids'].filter((x): x is string => typeof x === 'string') : null,
    },
    history,
    config,
  };
  const author = str(raw['author']);
  if (author) img.author = author;
  const variant = str(raw['variant']);
  if (variant) img.variant = variant;
  return img;
}

/** A deep copy (stages based on other stages start from a clone). */
export function cloneImage(img: ImageSpec): ImageSpec {
  return structuredClone(img);
}

/** True when a resolved base has no layers at all (BuildKit then builds on scratch). */
export function isScratchImage(img: ImageSpec): boolean {
  if (img.rootfs.diff_ids && img.rootfs.diff_ids.length > 0) return false;
  return img.history.every((h) => h.empty_layer === true);
}

/** The JSON the frontend hands to the exporter, keys in Go's encoding order. */
export function imageToJSON(img: ImageSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (img.author) out['author'] = img.author;
  out['architecture'] = img.architecture;
  out['os'] = img.os;
  out['rootfs'] = { type: img.rootfs.type, diff_ids: img.rootfs.diff_ids ?? [] };
  if (img.history.length > 0) {
    out['history'] = img.history.map((h) => {
      const e: Record<string, unknown> = {};
      if (h.created) e['created'] = h.created;
      if (h.created_by) e['created_by'] = h.created_by;
      if (h.author) e['author'] = h.author;
      if (h.comment) e['comment'] = h.comment;
      if (h.empty_layer) e['empty_layer'] = true;
      return e;
    });
  }
  const c = img.config;
  const cfg: Record<string, unknown> = {};
  if (c.User) cfg['User'] = c.User;
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length > 0) cfg['ExposedPorts'] = sortedKeys(c.ExposedPorts);
  if (c.Env && c.Env.length > 0) cfg['Env'] = [...c.Env];
  if (c.Entrypoint && c.Entrypoint.length > 0) cfg['Entrypoint'] = [...c.Entrypoint];
  if (c.Cmd && c.Cmd.length > 0) cfg['Cmd'] = [...c.Cmd];
  if (c.Volumes && Object.keys(c.Volumes).length > 0) cfg['Volumes'] = sortedKeys(c.Volumes);
  if (c.WorkingDir) cfg['WorkingDir'] = c.WorkingDir;
  if (c.Labels && Object.keys(c.Labels).length > 0) cfg['Labels'] = sortedKeys(c.Labels);
  if (c.StopSignal) cfg['StopSignal'] = c.StopSignal;
  if (c.Healthcheck) {
    const h: Record<string, unknown> = {};
    if (c.Healthcheck.Test && c.Healthcheck.Test.length > 0) h['Test'] = [...c.Healthcheck.Test];
    if (c.Healthcheck.Interval) h['Interval'] = c.Healthcheck.Interval;
    if (c.Healthcheck.Timeout) h['Timeout'] = c.Healthcheck.Timeout;
    if (c.Healthcheck.StartPeriod) h['StartPeriod'] = c.Healthcheck.StartPeriod;
    if (c.Healthcheck.StartInterval) h['StartInterval'] = c.Healthcheck.StartInterval;
    if (c.Healthcheck.Retries) h['Retries'] = c.Healthcheck.Retries;
    cfg['Healthcheck'] = h;
  }
  if (c.ArgsEscaped) cfg['ArgsEscaped'] = true;
  // OnBuild has no omitempty upstream: null when there is none.
  cfg['OnBuild'] = c.OnBuild && c.OnBuild.length > 0 ? [...c.OnBuild] : null;
  if (c.StopTimeout !== undefined) cfg['StopTimeout'] = c.StopTimeout;
  if (c.Shell && c.Shell.length > 0) cfg['Shell'] = [...c.Shell];
  out['config'] = cfg;
  if (img.variant) out['variant'] = img.variant;
  return out;
}

/** Go encodes maps with sorted keys. */
function sortedKeys<V>(m: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k] as V;
  return out;
}

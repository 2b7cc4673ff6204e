// --platform values normalized as buildx (containerd) normalizes them; one platform per build.
import { describe, expect, it } from 'vitest';
import { parsePlatformFlags } from './platforms.js';

describe('--platform', () => {
  it('normalizes architecture names and variants', () => {
    expect(parsePlatformFlags(['linux/aarch64'])).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatformFlags(['linux/arm64/v8'])).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatformFlags(['Linux/x86_64'])).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatformFlags(['linux/armhf'])).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatformFlags(['linux/arm/v6'])).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(parsePlatformFlags(['local'])).toBeUndefined();
  });

  it('takes the same platform given twice as one', () => {
    expect(parsePlatformFlags(['linux/arm64,linux/aarch64', 'linux/arm64/v8'])).toEqual({ os: 'linux', architecture: 'arm64' });
  });

  it('refuses a malformed value, and several platforms, saying why', () => {
    expect(() => parsePlatformFlags(['arm64'])).toThrow('invalid argument "arm64" for "--platform" flag: "arm64" is not os/arch[/variant]');
    expect(() => parsePlatformFlags(['linux/amd64,linux/arm64'])).toThrow('--platform linux/amd64, linux/arm64: a multi-platform image (an image index) is not supported');
  });
});

# After BuildKit's testSymlinkedDockerfile: the Dockerfile itself is a symlink in the
# context (this file is its target).
FROM busybox:local
ENV foo=bar
COPY target.Dockerfile /df

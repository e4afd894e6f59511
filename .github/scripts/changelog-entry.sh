#!/usr/bin/env bash
# changelog-entry.sh TAG [FILE]: succeeds when FILE (default CHANGELOG.md)
# has a section for the release tag TAG (vX.Y.Z): a heading "## [X.Y.Z]"
# (or "## X.Y.Z", "## vX.Y.Z"), optionally followed by " - DATE", with at
# least one line of text before the next "## " heading. Otherwise prints one
# line saying what to add and exits 1. The release workflow runs it first.
set -euo pipefail
tag=${1:?usage: changelog-entry.sh vX.Y.Z [CHANGELOG.md]}
file=${2:-CHANGELOG.md}
version=${tag#v}
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
	echo "changelog: tag \"$tag\" is not vX.Y.Z" >&2
	exit 1
fi
if [ ! -f "$file" ]; then
	echo "changelog: $file does not exist; add it with a section \"## [$version] - YYYY-MM-DD\"" >&2
	exit 1
fi
if ! awk -v v="$version" '
	/^## / {
		inside = 0
		h = $0
		sub(/^## +/, "", h)
		sub(/^\[/, "", h)
		sub(/^v/, "", h)
		sub(/[] ].*$/, "", h)
		if (h == v) { found = 1; inside = 1 }
		next
	}
	inside && NF { body = 1 }
	END { exit !(found && body) }
' "$file"; then
	echo "changelog: $file has no entry for $tag: add a section \"## [$version] - YYYY-MM-DD\" with the release's changes (rename [Unreleased])" >&2
	exit 1
fi

#!/usr/bin/env bash
# Vendors the asciinema-player's built bundle (JS, CSS, licence) that calm
# embeds in its HTML exports. Usage: report/player/update.sh [VERSION]
# (default: the newest on npm). Review the diff, run the report tests, commit.
set -euo pipefail
cd "$(dirname "$0")"
version=${1:-$(npm view asciinema-player version)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "asciinema-player@$version" >/dev/null && tar -xzf asciinema-player-"$version".tgz)
pkg=$tmp/package
cp "$pkg/dist/bundle/asciinema-player.min.js" "$pkg/dist/bundle/asciinema-player.css" "$pkg/LICENSE" .
echo "$version" >VERSION
echo "asciinema-player $version vendored into $(pwd)"

#!/usr/bin/env bash
# Composes the demo clip from a real photograph kept beside this script, deploy/demo-portrait.jpg: NASA's portrait
# of the astronaut Eileen Collins (NASA Great Images, https://flic.kr/p/r9qvLn; no known copyright restrictions,
# public domain; the one scikit-image ships as astronaut.png, scaled to 440x440). The face drifts in a 640x480
# frame, then leaves it, so the demo shows face_appeared, emotion updates and face_gone.
# Output: deploy/demo/demo-faces.avi (MJPEG, 15 fps, 20 s). Not committed; made by setup.sh. Needs ffmpeg only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/demo/demo-faces.avi"
photo=${DEMO_PHOTO:-$here/demo-portrait.jpg}
if [ -z "$photo" ] || [ ! -f "$photo" ]; then
  echo "make-demo-clip.sh: the portrait $photo is missing" >&2
  exit 1
fi
command -v ffmpeg >/dev/null || { echo "make-demo-clip.sh: ffmpeg not found (apt install ffmpeg)" >&2; exit 1; }
if [ -f "$out" ] && [ "$out" -nt "$0" ] && [ "$out" -nt "$photo" ]; then exit 0; fi
mkdir -p "$here/demo"
echo "==> Composing the demo clip $out from $photo"
# The photo (scaled to 440 px) sways for 14 s, slides out to the right, and the frame stays empty.
ffmpeg -loglevel error -y -f lavfi -i "color=c=0x303030:s=640x480:r=15:d=20" -loop 1 -i "$photo" \
  -filter_complex "[1:v]scale=440:440,format=rgb24[p];[0:v][p]overlay=x='if(lt(t,14),100+60*sin(t/2),100+60*sin(7)+(t-14)*260)':y='20+15*sin(t/3)':shortest=1,format=yuvj420p" \
  -t 20 -r 15 -c:v mjpeg -q:v 4 "$out"

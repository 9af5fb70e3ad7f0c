#!/usr/bin/env bash
# The main job on the shared sample data: sets up (scripts/setup.sh), then runs the reference
# experiment (L120, RN1, RN2, RN2+A, RN2+A+E, and the motion rows M, RN2+A+M, RN2+A+M+E) on
# the MLWIC camera-trap images, task empty vs animal, with the shared ImageNet MobileNetV2 as
# backbone, and prints the table. The CNN rows run the whole frame (squashed, info bars
# cropped) at 224, 448 and 576 and average the three classifiers (docs/experiment.md: why;
# about 10 minutes from scratch on 2 cores).
# Outputs in out/experiment/ (report.html, table.md, roc.svg, ...), and the best row trained on
# all the images as a pipeline, out/pipeline.irbis, ready for `irbis classify --pipeline`.
# A re-run reuses the feature cache in out/cache/ and costs no CNN time.
#   scripts/demo.sh [extra irbis experiment options]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${IRBIS_SHARED:-$here/../shared}
"$here/scripts/setup.sh" "$here/build"
mkdir -p "$here/out"
# the MLWIC rows of the shared manifest (path,source,label,camera,timestamp,sequence,...)
awk -F, 'NR == 1 || index($1, "mlwic_examples/") == 1' "$shared/data/camera-traps/manifest.csv" \
  > "$here/out/labels_mlwic.csv"
exec "$here/build/irbis" experiment \
  --images "$shared/data/camera-traps" \
  --labels "$here/out/labels_mlwic.csv" \
  --model "$shared/models/mobilenet_v2/mobilenet_v2_1.0_224.onnx" \
  --task empty --size 224,448,576 --combine mean --resize squash --crop auto \
  --save best --save-to "$here/out/pipeline.irbis" \
  --cache "$here/out/cache" -o "$here/out/experiment" "$@"

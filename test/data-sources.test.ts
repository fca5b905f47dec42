import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startsVolumeName } from '../src/data/volumes.js';
import { DATASET_PRESETS } from '../src/experiments/data.js';

test('covid-ct-20-cross-source holds out exactly the volumes that start at or after slice 1247 (the second source)', () => {
  const { volumeStarts, testVolumes } = DATASET_PRESETS['covid-ct-20-cross-source'];
  const expected = volumeStarts.map((s, k) => ({ s, id: startsVolumeName(k, volumeStarts.length) })).filter((v) => v.s >= 1247).map((v) => v.id);
  assert.equal([...testVolumes], expected);
  assert.is(volumeStarts.filter((s) => s < 1247).length, 10, 'ten coronacases volumes remain for training');
  assert.equal([...volumeStarts], [...DATASET_PRESETS['covid-ct-20'].volumeStarts]);
});

test.run();

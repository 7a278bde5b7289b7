/**
 * `sage prepare imagenet-lt` / `places-lt`: an image root plus the benchmark's list files
 * (`relative/path label` per line) and classnames.txt (one name per line, in label order).
 */
import type { PresetName } from '../../contracts/settings';
import { joinUri, storeFor, type ObjectStore } from '../../storage';
import { shardKeyFor } from '../shards/format';
import { parseClassNames, parseListFile, type ListedImage } from './text-files';
import { writePreparedDataset, type IngestSample, type PrepareOutputOptions, type PreparedDataset } from './write-dataset';

export interface PrepareListDatasetOptions extends PrepareOutputOptions {
  /** Folder the list paths are relative to (local path or s3:// prefix). */
  imageRoot: string;
  /** Training list, e.g. ImageNet_LT_train.txt. */
  trainList: string;
  /** Test list, e.g. ImageNet_LT_test.txt. */
  testList: string;
  /** classnames.txt: one class name per line, in label order. */
  classNames: string;
}

async function storeAt(options: PrepareOutputOptions, uri: string): Promise<ObjectStore> {
  return options.store ?? storeFor(uri);
}

/** Samples that read each listed image from the image root when their turn comes. */
export function listedSamples(images: readonly ListedImage[], imageRoot: string, store: ObjectStore): IngestSample[] {
  return images.map(({ path, label }) => ({ key: shardKeyFor(path), label, image: () => store.get(joinUri(imageRoot, path)) }));
}

async function prepareListDataset(options: PrepareListDatasetOptions, dataset: { defaultName: string; preset: PresetName; title: string }): Promise<PreparedDataset> {
  const text = async (uri: string): Promise<string> => (await storeAt(options, uri)).getText(uri);
  const classes = parseClassNames(await text(options.classNames), options.classNames);
  const train = parseListFile(await text(options.trainList), options.trainList, classes.length);
  const test = parseListFile(await text(options.testList), options.testList, classes.length);
  const images = await storeAt(options, options.imageRoot);
  return writePreparedDataset(
    {
      classes,
      train: listedSamples(train, options.imageRoot, images),
      test: listedSamples(test, options.imageRoot, images),
      defaultName: dataset.defaultName,
      description: `${dataset.title} (${train.length} training, ${test.length} test images)`,
      training: { preset: dataset.preset },
    },
    options,
  );
}

export function prepareImageNetLt(options: PrepareListDatasetOptions): Promise<PreparedDataset> {
  return prepareListDataset(options, { defaultName: 'imagenet-lt', preset: 'imagenet-lt', title: 'ImageNet-LT' });
}

export function preparePlacesLt(options: PrepareListDatasetOptions): Promise<PreparedDataset> {
  return prepareListDataset(options, { defaultName: 'places-lt', preset: 'places-lt', title: 'Places-LT' });
}

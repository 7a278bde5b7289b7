/**
 * `sage prepare inat2018`: iNaturalist 2018 from the competition's COCO-style JSON files
 * (train2018.json, val2018.json: `images[{id, file_name}]`, `annotations[{image_id,
 * category_id}]`, `categories[{id, name}]`) and, optionally, the un-obfuscated names of
 * categories.json. Class i is the i-th category by ascending id (ids are 0..8141 in 2018, so
 * the label is the category id). val2018 is the test split, as in the paper.
 */
import { z } from 'zod';
import { storeFor } from '../../storage';
import { listedSamples } from './prepare-lists';
import type { ListedImage } from './text-files';
import { writePreparedDataset, type PrepareOutputOptions, type PreparedDataset } from './write-dataset';
import { DataError } from '../../common/errors';

export interface PrepareInat2018Options extends PrepareOutputOptions {
  /** Folder the JSON's file_name paths are relative to (holding train_val2018/). */
  imageRoot: string;
  /** train2018.json. */
  trainJson: string;
  /** val2018.json, used as the test split. */
  valJson: string;
  /** categories.json ([{id, name, ...}]); default: the categories inside train2018.json. */
  categoriesJson?: string;
}

const Category = z.object({ id: z.number().int().min(0), name: z.string().min(1) });
const Categories = z.array(Category).min(2);
const CocoFile = z.object({
  images: z.array(z.object({ id: z.number().int(), file_name: z.string().min(1) })),
  annotations: z.array(z.object({ image_id: z.number().int(), category_id: z.number().int() })),
  categories: Categories.optional(),
});
type CocoFile = z.infer<typeof CocoFile>;

export class InatFormatError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'InatFormatError';
  }
}

function parseJson<T>(text: string, schema: z.ZodType<T>, name: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InatFormatError(`${name} is not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InatFormatError(`${name}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Each image of a COCO-style file with its class index (via the category id → class map). */
function imagesOf(file: CocoFile, classOf: ReadonlyMap<number, number>, name: string): ListedImage[] {
  const categoryOf = new Map<number, number>();
  for (const annotation of file.annotations) categoryOf.set(annotation.image_id, annotation.category_id);
  return file.images.map((image) => {
    const category = categoryOf.get(image.id);
    if (category === undefined) throw new InatFormatError(`${name}: image ${image.id} (${image.file_name}) has no annotation`);
    const label = classOf.get(category);
    if (label === undefined) throw new InatFormatError(`${name}: image ${image.id} has category_id ${category}, which is not among the categories`);
    return { path: image.file_name, label };
  });
}

export async function prepareInat2018(options: PrepareInat2018Options): Promise<PreparedDataset> {
  const text = async (uri: string): Promise<string> => (options.store ?? (await storeFor(uri))).getText(uri);
  const train = parseJson(await text(options.trainJson), CocoFile, options.trainJson);
  const val = parseJson(await text(options.valJson), CocoFile, options.valJson);
  const categories = options.categoriesJson ? parseJson(await text(options.categoriesJson), Categories, options.categoriesJson) : train.categories;
  if (!categories) throw new InatFormatError(`${options.trainJson} has no "categories" and no categoriesJson was given: the class names are unknown`);
  const ordered = [...categories].sort((a, b) => a.id - b.id);
  const classOf = new Map(ordered.map((category, index) => [category.id, index]));
  if (classOf.size !== ordered.length) throw new InatFormatError('two categories share an id');
  const trainImages = imagesOf(train, classOf, options.trainJson);
  const testImages = imagesOf(val, classOf, options.valJson);
  const images = options.store ?? (await storeFor(options.imageRoot));
  return writePreparedDataset(
    {
      classes: ordered.map((category) => category.name),
      train: listedSamples(trainImages, options.imageRoot, images),
      test: listedSamples(testImages, options.imageRoot, images),
      defaultName: 'inat2018',
      description: `iNaturalist 2018 (${trainImages.length} training, ${testImages.length} validation images as the test split)`,
      training: { preset: 'inat2018' },
    },
    options,
  );
}

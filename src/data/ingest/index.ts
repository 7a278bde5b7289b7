/** Ingestion commands (wired into `sage prepare ...` by the CLI): each writes shards and a manifest. */
export { prepareCifar100Lt, CIFAR100_TRAIN_PER_CLASS, type PrepareCifar100LtOptions } from './prepare-cifar';
export { prepareImageNetLt, preparePlacesLt, type PrepareListDatasetOptions } from './prepare-lists';
export { prepareInat2018, InatFormatError, type PrepareInat2018Options } from './prepare-inat';
export { prepareImageFolder, ImageFolderError, type PrepareImageFolderOptions } from './prepare-folder';
export { DEFAULT_WEIGHTS, MANIFEST_FILE, type PrepareOutputOptions, type PrepareProgress, type PreparedDataset } from './write-dataset';
export { longTailCounts, selectLongTail, LongTailError } from './long-tail';
export { readCifar100Archive, CifarArchiveError, type CifarArchive } from './cifar';
export { readPickle, PickleFormatError } from './pickle';
export { parseListFile, parseClassNames, ListFileError } from './text-files';

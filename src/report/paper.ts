/**
 * Values reported in Walmsley et al. 2022 (MNRAS 513, 1581), keyed by the name of the galmorph
 * table that reproduces them, so REPORT.md can put each measured table beside the paper.
 * Only values stated in the paper go here; a table without an entry is marked as having none.
 */
export interface PaperValue {
  quantity: string;
  paper: string;
}

export interface PaperEntry {
  /** What the table reproduces, in one line. */
  experiment: string;
  values: PaperValue[];
}

const SIMILARITY: PaperEntry = {
  experiment: 'Similarity search from one galaxy (paper section 4; assessed by eye there, no numbers)',
  values: [{ quantity: 'precision@k, mAP', paper: 'not reported (qualitative figures only)' }],
};

const ANOMALY: PaperEntry = {
  experiment:
    'Personalised anomaly detection, GZ2 odd features, 200 labels (paper section 5, on a much larger GZ2 sample: its precision@200 of 0.874 needs at least 175 positives; here 44 of 1,000, so precision@200 is at most 0.22)',
  values: [
    { quantity: 'precision@50 (galmorph GP + active learning)', paper: '1.00' },
    { quantity: 'precision@200', paper: '0.874' },
    { quantity: 'average precision', paper: '0.545' },
    { quantity: 'Astronomaly baseline precision@50 / @200 / AP', paper: '0.657 / 0.400 / 0.156' },
  ],
};

const RINGS: PaperEntry = {
  experiment: 'Ring finding by fine-tuning (paper section 6; its "top only" is depth `head` here)',
  values: [
    { quantity: 'accuracy, GZ-pretrained, top only, 79 rings', paper: '0.857' },
    { quantity: 'accuracy, ImageNet-pretrained', paper: 'about 0.80, even with thousands of rings' },
    { quantity: 'accuracy, from scratch, 79 rings', paper: 'about 0.5' },
  ],
};

export const PAPER_VALUES: Record<string, PaperEntry> = {
  similarity: SIMILARITY,
  'similarity-summary': SIMILARITY,
  anomaly: ANOMALY,
  'anomaly-summary': ANOMALY,
  rings: RINGS,
  'rings-summary': RINGS,
};

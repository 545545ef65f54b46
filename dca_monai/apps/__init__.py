"""The embedded demo datasets and their offline sources, as ``monai.apps`` holds MedNIST and the Decathlon.

- :mod:`~dca_monai.apps.brain_dataset`: a labelled T1 MRI dataset (``build_brain_dataset``) built from the MNI152
  template of :mod:`~dca_monai.apps.mni152` (nilearn's templates), :mod:`~dca_monai.apps.tissue_labels` and the
  per-case CSF and intensity randomisation of :mod:`~dca_monai.apps.tissue_synthesis`;
- :mod:`~dca_monai.apps.colin27`: the held-out real T1 scan installed by Debian's ``mricron-data``;
- :mod:`~dca_monai.apps.itk_brain_t1`: a second held-out real T1 (2 x 2 x 3 mm), Debian's ``insighttoolkit5-examples``;
- :mod:`~dca_monai.apps.ct_organ_dataset`: the CT organ dataset (``build_ct_organ_dataset``) from the real CTs of
  :mod:`~dca_monai.apps.totalsegmentator_examples`, with the classes of :mod:`~dca_monai.apps.ct_organs`.

Import from the modules: several of them run as ``python -m dca_monai.apps.<module>``, and the builders import
MONAI's transforms, which the light modules do not need.
"""

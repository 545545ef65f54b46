"""The folder to list in nnU-Net's ``nnUNet_extTrainer`` (:func:`dca_monai.nnunet.trainer_search_path`)."""

"""``python -m dca_monai.nnunet``: print the folder for nnU-Net's ``nnUNet_extTrainer``.

export nnUNet_extTrainer="$(python -m dca_monai.nnunet)"
"""

from __future__ import annotations

from dca_monai.nnunet import trainer_search_path

if __name__ == "__main__":
    print(trainer_search_path())

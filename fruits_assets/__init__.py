"""fruits_assets: Fruits-360 photos -> MobileNetV2 features -> PCA, as Dagster assets."""

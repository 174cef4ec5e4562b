"""ERP shapes: stockloop's plain events written as an ERP's tables would send them through CDC."""

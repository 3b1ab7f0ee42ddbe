CHECKPOINT_ITER=$(cat $CHECKPOINTS_DIR/latest_checkpoint.txt); python scripts/convert_distcp_to_pt.py $CHECKPOINTS_DIR/$CHECKPOINT_ITER/model $CHECKPOINTS_DIR/$CHECKPOINT_ITER

# What the code writes. The doc block (convert_dcp_t25.sh, docs/post-training_singleview.md at
# 2ff49d0) globs local_single_view/2B_edge_posttrain_*, a folder no experiment makes: the edge
# experiment sets job.name=transfer2_singleview_posttrain_edge_example
# (cosmos_transfer2/experiments/singleview/cosmos_singleview_example.py) and nothing appends a
# timestamp. Only that path differs from the doc's text.
CHECKPOINTS_DIR=${IMAGINAIRE_OUTPUT_ROOT:-/tmp/imaginaire4-output}/cosmos_transfer2_posttrain/local_single_view/transfer2_singleview_posttrain_edge_example/checkpoints
CHECKPOINT_ITER=$(cat $CHECKPOINTS_DIR/latest_checkpoint.txt)
CHECKPOINT_DIR=$CHECKPOINTS_DIR/$CHECKPOINT_ITER

python scripts/convert_distcp_to_pt.py $CHECKPOINT_DIR/model $CHECKPOINT_DIR

# What the code accepts. The doc block (p1_s2mv_inference.sh, cosmos-predict1 2b446eb
# examples/post-training_diffusion_single2multiview.md) passes --diffusion_transformer_dir
# Cosmos-Predict1-7B-SingleToMultiView_post-trained, which video2world_view_extend_multiview.py's
# argparse rejects: its choices are only
# Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/{t2w,v2w}_model.pt, loaded from
# <checkpoint_dir>/<that path>. cosmos-tui places the post-trained EMA under that name in the doc's
# folder, which links the shared folders of checkpoints/, and points --checkpoint_dir there. Only
# those two arguments differ from the doc's text.
CUDA_HOME=$CONDA_PREFIX PYTHONPATH=$(pwd) python cosmos_predict1/diffusion/inference/video2world_view_extend_multiview.py \
    --checkpoint_dir checkpoints/Cosmos-Predict1-7B-SingleToMultiView_post-trained \
    --diffusion_transformer_dir Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/t2w_model.pt \
    --view_condition_video assets/diffusion/sv2mv_input_view.mp4 \
    --num_input_frames 1 \
    --condition_location "first_cam" \
    --prompt "${PROMPT}" \
    --prompt_left "${PROMPT_LEFT}" \
    --prompt_right "${PROMPT_RIGHT}" \
    --prompt_back "${PROMPT_BACK}" \
    --prompt_back_left "${PROMPT_BACK_LEFT}" \
    --prompt_back_right "${PROMPT_BACK_RIGHT}" \
    --video_save_name diffusion-single2multiview-text2world-posttrained

"""From runs to what a page shows: paper-versus-ours tables, statistics, computed sentences,
figure data and the data chapter's tables. Nothing here trains; runs come from ``microau.runs``.

The notebooks use ``from microau import report`` and call the functions re-exported below; each
lives in the module of its concern.
"""
from .data_overview import (au_shares, cooccurrence_counts, dataset_overview, describe_folds,  # noqa: F401
                            emotion_counts, example_clip_id, fold_table, phantom_amplitudes,
                            sheet_stats, table1_tokens)
from .figure_data import (clip_ids, dependency_by_active_au, example_aus, pick_clips_with,  # noqa: F401
                          pick_similarity_samples, prepared_clips, pta_token_map, separation_scores,
                          similarity_by_pair, token_grid, token_index, tsne_embedding)
from .labels import MER_METRICS, SEP, data_label, ours_label, paper_group_for, paper_label  # noqa: F401
from . import figure_pages, summary  # noqa: F401 (the figure pages' and the landing page's calls)
from .page import BookPage, open_page  # noqa: F401
from .pages import show_per_au, table_page  # noqa: F401
from .sentences import (describe_comparison, describe_mechanisms, describe_mer,  # noqa: F401
                        describe_separation_gated,
                        describe_sota, describe_sweep,
                        describe_text_similarity)
from .statistics import (cosine_matrix, f1_bootstrap_se, majority_scores, mer_chance,  # noqa: F401
                         pairwise_agreement)
from .tables import (comparison, comparison_table, mer_details, mer_table, our_value,  # noqa: F401
                     per_au_table, provenance, sota_table, styled)
from .verdicts import (describe_noise_components, describe_seed_spread, describe_verdicts,  # noqa: F401
                       noise_components_table, row_verdicts,
                       seed_gated_differences, seed_spread_table, seed_spreads, shown)
from .baseline import model_vs_baseline  # noqa: F401
from .controls_page import (broken_model_checks, broken_table, control_effects, control_sentence,  # noqa: F401
                            controls_plot, describe_broken, describe_controls, describe_statistics,
                            mechanism_statistics, show_broken_models, show_control_effects,
                            show_mechanism_statistics, shown_effects, shown_statistics, statistic_spreads)
from .cross_page import show_cross_against_baseline, show_cross_scores, show_harmonisation  # noqa: F401,E402
